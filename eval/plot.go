package eval

import (
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io"
	"math"
	"strconv"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"
)

// Curve is one named DET curve.
type Curve struct {
	Name   string
	Points []Point
}

// detTicks are the axis marks, as rates, on the normal-deviate scale that
// makes DET curves of Gaussian scores straight lines.
var detTicks = []float64{0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.4}

var palette = []color.RGBA{
	{31, 119, 180, 255}, {214, 39, 40, 255}, {44, 160, 44, 255}, {148, 103, 189, 255},
	{255, 127, 14, 255}, {23, 190, 207, 255}, {140, 86, 75, 255}, {127, 127, 127, 255},
}

// PlotDET draws DET curves (FRR against FAR, both on the normal-deviate
// scale from 0.1% to 40%) with a legend, as a PNG.
func PlotDET(w io.Writer, curves []Curve) error {
	const size, margin = 640, 70
	img := image.NewRGBA(image.Rect(0, 0, size, size))
	draw.Draw(img, img.Bounds(), image.White, image.Point{}, draw.Src)
	lo, hi := probit(detTicks[0]), probit(detTicks[len(detTicks)-1])
	plot := float64(size - 2*margin)
	toX := func(far float64) int { return margin + int((probit(clampRate(far))-lo)/(hi-lo)*plot) }
	toY := func(frr float64) int { return size - margin - int((probit(clampRate(frr))-lo)/(hi-lo)*plot) }
	grey := color.RGBA{220, 220, 220, 255}
	black := color.RGBA{0, 0, 0, 255}
	for _, t := range detTicks {
		x, y := toX(t), toY(t)
		line(img, x, margin, x, size-margin, grey)
		line(img, margin, y, size-margin, y, grey)
		label := formatRate(t)
		text(img, x-3*len(label), size-margin+16, label, black)
		text(img, margin-8-7*len(label), y+4, label, black)
	}
	line(img, margin, size-margin, size-margin, size-margin, black)
	line(img, margin, margin, margin, size-margin, black)
	line(img, toX(detTicks[0]), toY(detTicks[0]), toX(detTicks[len(detTicks)-1]), toY(detTicks[len(detTicks)-1]), grey) // EER diagonal
	text(img, size/2-80, size-margin+40, "false accept rate (%)", black)
	text(img, 8, margin-20, "false reject rate (%)", black)
	text(img, size/2-70, 24, "DET curves (voxgate eval)", black)
	for i, c := range curves {
		col := palette[i%len(palette)]
		var px, py int
		for j, p := range c.Points {
			x, y := toX(p.FAR), toY(p.FRR)
			if j > 0 {
				line(img, px, py, x, y, col)
				line(img, px, py+1, x, y+1, col)
			}
			px, py = x, y
		}
		ly := margin + 12 + 16*i
		line(img, size-margin-150, ly-4, size-margin-130, ly-4, col)
		line(img, size-margin-150, ly-3, size-margin-130, ly-3, col)
		text(img, size-margin-124, ly, c.Name, black)
	}
	return png.Encode(w, img)
}

func clampRate(r float64) float64 {
	return math.Min(math.Max(r, detTicks[0]/2), 0.5)
}

// probit is the inverse of the standard normal CDF.
func probit(p float64) float64 { return math.Sqrt2 * math.Erfinv(2*p-1) }

// formatRate prints a rate as a percentage: 0.001 -> "0.1", 0.2 -> "20".
func formatRate(r float64) string { return strconv.FormatFloat(r*100, 'g', 3, 64) }

// line draws a straight line (Bresenham).
func line(img *image.RGBA, x0, y0, x1, y1 int, c color.Color) {
	dx, dy := abs(x1-x0), -abs(y1-y0)
	sx, sy := 1, 1
	if x0 > x1 {
		sx = -1
	}
	if y0 > y1 {
		sy = -1
	}
	e := dx + dy
	for {
		img.Set(x0, y0, c)
		if x0 == x1 && y0 == y1 {
			return
		}
		if e2 := 2 * e; e2 >= dy {
			e += dy
			x0 += sx
		} else {
			e += dx
			y0 += sy
		}
	}
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

func text(img *image.RGBA, x, y int, s string, c color.Color) {
	d := &font.Drawer{Dst: img, Src: image.NewUniform(c), Face: basicfont.Face7x13, Dot: fixed.P(x, y)}
	d.DrawString(s)
}

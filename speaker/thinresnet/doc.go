// Package thinresnet runs the VoxCeleb-trained ThinResNet speaker-embedding network of
// github.com/nyangmeong/max78000-speaker-verification (MIT; commit 2942b61), a ~315k
// parameter INT8 network made for the MAX78000 accelerator, with that accelerator's
// integer arithmetic, bit for bit.
//
// Its float checkpoints are not published; its weights are: in the C that ai8x-synthesis
// generated for the chip. Load reads that C unmodified from the models folder (voxgate
// models pull fetches it by commit and SHA-256) and decodes it: synthesis/voxsv/weights.h
// holds the kernel memory image (9-byte 3x3 kernels, 1x1 kernels nine to a slot) and the
// bias memories, and synthesis/voxsv/cnn.c the per-layer registers that say which
// processors (input channels) and passes each layer uses, where its kernels start, its
// weight width, output shift and bias location. The layer graph is that of
// synthesis/networks/sv.yaml:
//
//	80x128 int8 log-mel -> conv 3x3 1->16, ReLU, max pool 2        (stem)
//	-> 4 residual blocks 16, 32, 64, 128 channels (two 3x3 convs, a 1x1 shortcut
//	   when the width changes, add, ReLU), max pool 2 after the first two
//	-> average over the 10x16 map -> linear 128->64 (int8 output)
//
// Arithmetic per layer: acc = sum(w*x) + bias*128; y = clip(floor(0.5 + acc*2^shift/128),
// -128, 127), ReLU clipping to [0, 127]; element-wise adds saturate. The synthesised program
// max-pools the stem's input before its convolution (Hardware, which reproduces the
// project's known answer, sampledata.h -> sampleoutput.h), while the PyTorch model the
// weights were trained in pools after the ReLU (Trained, used for embeddings).
//
// Embedder is the reference's front end (training/eval_eer_vox1.py): 1.3 s segments every
// 0.5 s of 16 kHz audio, 80 mel bands, per-segment mean normalisation, int8 scaling; the
// segment outputs are averaged into one unit vector. The network is trained on wideband
// speech only: through a telephone channel its errors double or worse, and on 8 kHz
// digits (fsdd) it is near chance (train/speaker/RESULTS.md, sixth round).
package thinresnet

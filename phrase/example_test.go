package phrase

import "fmt"

func ExampleNormalize() {
	fmt.Println(Normalize("Silver bridge 19!", false))
	fmt.Println(Normalize("4719", true))
	fmt.Println(Normalize("Press 1, then wait.", false))
	// Output:
	// silver bridge nineteen
	// four seven one nine
	// press one then wait
}

module isthmus/conformance

go 1.19

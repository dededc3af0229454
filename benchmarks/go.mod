module github.com/phlogo/phlo/benchmarks

go 1.25.0

require (
	github.com/phlogo/phlo v0.0.0
	github.com/plivo/plivo-go/v7 v7.60.2
)

require (
	github.com/go-playground/locales v0.14.1 // indirect
	github.com/go-playground/universal-translator v0.16.0 // indirect
	github.com/google/go-querystring v1.2.0 // indirect
	github.com/leodido/go-urn v1.2.4 // indirect
	gopkg.in/go-playground/validator.v9 v9.31.0 // indirect
)

replace github.com/phlogo/phlo => ../

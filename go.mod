module github.com/phlogo/phlo

go 1.26.8

require github.com/google/go-querystring v1.2.0

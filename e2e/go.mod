module baigo.dev/bai/e2e

go 1.26.8

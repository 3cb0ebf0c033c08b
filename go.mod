module mlmf

go 1.26

"""The `sbn train` options of the tests' tiny runs, one list each wherever they recur
(importable from every test folder: pyproject puts tests/ on the path)."""

#: the reduced model: one block per stage, 1/16 of the channels (--T is given beside it)
TINY_MODEL = ("--layers", "1,1,1,1", "--width", "0.0625")

#: one epoch on the first 64 training and the first 32 test digits
ONE_QUICK_EPOCH = ("--epochs", "1", "--train-samples", "64", "--test-samples", "32")

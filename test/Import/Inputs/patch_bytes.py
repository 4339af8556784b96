"""Replaces the first occurrence of a byte string in a file, for corrupting
test inputs: patch_bytes.py IN OUT OLD NEW, with OLD and NEW as Python
bytes literals' contents (escapes such as \\x00 allowed) of equal length."""
import codecs
import sys

src, dst, old, new = sys.argv[1:5]
old = codecs.escape_decode(old)[0]
new = codecs.escape_decode(new)[0]
if len(old) != len(new):
    sys.exit("patch_bytes.py: OLD and NEW differ in length")
data = open(src, "rb").read()
if old not in data:
    sys.exit("patch_bytes.py: pattern not found in " + src)
open(dst, "wb").write(data.replace(old, new, 1))

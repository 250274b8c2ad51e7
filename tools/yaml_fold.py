"""Authoring aid: fold plain YAML doc values that contain ': ' or ' #' into block scalars."""
import re
import sys

PATTERN = re.compile(r"^(\s+)(what|why|fix|title|advise): (.*)$")

for path in sys.argv[1:]:
    lines = open(path, encoding="utf-8").read().split("\n")
    out = []
    for line in lines:
        match = PATTERN.match(line)
        if match:
            indent, key, value = match.groups()
            if value and value[0] not in "'\">|&*{[" and (": " in value or " #" in value or value.startswith("`")):
                out.append(f"{indent}{key}: >-")
                out.append(f"{indent}  {value}")
                continue
        out.append(line)
    open(path, "w", encoding="utf-8").write("\n".join(out))

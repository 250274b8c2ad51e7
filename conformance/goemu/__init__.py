"""Go emulation: JSON as Go's encoding/json reads and writes it, and Go RE2 pattern syntax.
Nothing here imports the rest of the package."""

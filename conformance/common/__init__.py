"""The ground floor: small helpers every layer may use (JSON pointers, redaction, errors and
exit codes, bounded input reading, URL checks). Nothing here imports the rest of the package."""

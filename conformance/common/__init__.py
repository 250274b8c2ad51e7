"""The ground floor: small helpers every layer may use (JSON pointers, redaction, errors and
exit codes, bounded input reading, URL checks, typed reads of decoded JSON). Nothing here imports
the rest of the package."""

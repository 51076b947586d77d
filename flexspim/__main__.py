import sys

try:
    from .cli import main
except KeyboardInterrupt:          # Ctrl-C while Python imports the command line
    sys.stderr.write("error: interrupted (Ctrl-C)\n")
    sys.exit(130)

sys.exit(main())

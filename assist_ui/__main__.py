import sys

from assist_ui.cli import main

sys.exit(main(sys.argv[1:]))

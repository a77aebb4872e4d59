"""python -m samplemind"""

from .cli import main

main()

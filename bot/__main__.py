"""`python -m bot` is the `praktikbot` command."""

from bot.cli import main

main()

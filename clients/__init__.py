"""What callers use: the generated stubs, a typed client and the command line tool."""

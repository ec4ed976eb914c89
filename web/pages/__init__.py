"""The server-rendered pages, one module per audience (reviewer, admin, public) plus sign-in."""

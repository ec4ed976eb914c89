"""The program admin workspace: programs by title, hours, pathway badges held and the director's confirmation."""

"""Video probing and transcoding through Debian's ffmpeg (the only module that runs it)."""

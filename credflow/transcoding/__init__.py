"""Step 3, transcoding: every video becomes one review MP4 plus a poster, once per input sha256."""

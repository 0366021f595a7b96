"""`encode-slide` and `encode-patient`: the patch features slide and patient encoders read
(computed first where missing), the encoders run, their vectors written safely."""

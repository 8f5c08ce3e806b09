# The fixture's maker needs Keras and is run by hand, not collected (--doctest-modules).
collect_ignore = ["fixtures/make_keras_fixture.py"]

"""DUIS-shaped documents: the models of every Service Request served, and their XML/JSON codecs."""

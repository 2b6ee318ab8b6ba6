"""Training data: the synthetic pain-response world and the BioVid/EMOCA feature loader."""

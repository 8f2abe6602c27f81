"""Kit shared by every agency simulator: the synthetic population, the fault control surface, loopback serving."""

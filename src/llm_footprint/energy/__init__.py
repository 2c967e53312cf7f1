"""Energy stage: a seeded prompt schedule replayed in real time under CodeCarbon."""

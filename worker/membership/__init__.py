"""The membership journey at the edges: reading applicants, camp progress and squads from
the forum and Redis, and the steps (gather → engine → apply) the actors run."""

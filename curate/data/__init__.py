"""Package data of curate: personas.jsonl (300 personas written for skillmix)."""

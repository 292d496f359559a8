-- What the last check with an LLM's provider found (outcome, HTTP status, words, when), as
-- JSON; NULL before the first check, and again once the provider, URL, model or key changed.
ALTER TABLE llms ADD COLUMN last_check TEXT;

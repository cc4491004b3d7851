-- The answer cache (issue 38, Cache:Answers): an answer given again from the cache, without asking a model host, is
-- stored like any answer and marked so. A constant default: no table rewrite.
ALTER TABLE messages ADD COLUMN cached boolean NOT NULL DEFAULT false;

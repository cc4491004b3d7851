-- The engine's own timings of an answer (llama.cpp's prompt and generation milliseconds), when its worker reports
-- them: tokens per second is then generation speed, not the worker's wall time (which includes waiting and loading).
ALTER TABLE metrics ADD COLUMN prompt_ms REAL NULL;
ALTER TABLE metrics ADD COLUMN generation_ms REAL NULL;

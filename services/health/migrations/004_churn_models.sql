-- Trained churn models (TrainChurnModel). Append-only: GetHealth reads the newest,
-- and an as_of read the newest trained by then, so older models stay for audits.
-- `model` is the full model as text (churn_model.h); the other columns repeat
-- what people and reports want to read without decoding it.
CREATE TABLE churn_models (
  model_id BIGINT NOT NULL AUTO_INCREMENT,
  trained_at DATETIME(6) NOT NULL,
  cutoff DATE NOT NULL,
  horizon_days INT NOT NULL,
  lookback_days INT NOT NULL,
  holdout_fraction DOUBLE NOT NULL,
  seed BIGINT UNSIGNED NOT NULL,
  train_size INT NOT NULL,
  holdout_size INT NOT NULL,
  positives INT NOT NULL,
  auc_holdout DOUBLE NULL,
  model TEXT NOT NULL,
  PRIMARY KEY (model_id),
  KEY churn_models_trained (trained_at, model_id)
) ENGINE=InnoDB;

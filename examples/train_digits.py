"""High-level training: an MLP on the digits set that ships with mlc, with the Trainer."""
import mlc
from mlc import nn
from mlc.train import Scaler, Trainer, load_dataset, train_valid_split

splits = load_dataset("digits")
scaler = Scaler.fit("unit", splits["train"].X)
train, valid = train_valid_split(splits["train"], valid_fraction=0.1, seed=0)
test = splits["test"]
for part in (train, valid, test):
    part.X = scaler.transform(part.X, mlc.config.floatX)

model = nn.MLP(n_in=64, hidden=[100], n_out=10, activation="tanh", seed=1234)
trainer = Trainer(model, loss="negative_log_likelihood", optimizer=nn.SGD(lr=0.1),
                  regularization={"l2": 1e-4}, batch_size=20, epochs=30,
                  metrics=["accuracy"], early_stopping={"patience": 10},
                  checkpoint_dir="runs/example-digits", seed=1234, preprocess=scaler.state())
trainer.fit(train, valid)
print("test:", trainer.evaluate(test))

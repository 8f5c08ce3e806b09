"""Keras 3's guide "Making new layers and models via subclassing", on juanji.

Layers with weights made in ``__init__`` or lazily in ``build``, non-trainable weights,
nested layers, a layer adding a loss, configs, a ``training`` argument; then a variational
autoencoder (a ``Model`` of nested layers with a KL-divergence loss and seeded sampling)
trained on MNIST with ``fit``.

Run: ``python examples/keras3/making_new_layers_and_models_via_subclassing.py``.
Environment variables: ``KERAS3_SAMPLES`` (the first N training images), ``KERAS3_EPOCHS``
(train that many epochs), ``KERAS3_WITH_KERAS=1`` (the same program on Keras 3 itself),
``KERAS3_SEED`` (the seed given to ``utils.set_random_seed``, default 1).
"""

import os

import numpy as np

if os.environ.get("KERAS3_WITH_KERAS"):
    import keras
    from keras import layers, ops
else:
    import juanji as keras
    from juanji import layers, ops

SAMPLES = int(os.environ.get("KERAS3_SAMPLES", 0)) or None
EPOCHS = int(os.environ.get("KERAS3_EPOCHS", 0)) or None
keras.utils.set_random_seed(int(os.environ.get("KERAS3_SEED", 1)))


class Linear(keras.layers.Layer):
    def __init__(self, units=32, input_dim=32):
        super().__init__()
        self.w = self.add_weight(
            shape=(input_dim, units), initializer="random_normal", trainable=True
        )
        self.b = self.add_weight(shape=(units,), initializer="zeros", trainable=True)

    def call(self, inputs):
        return ops.matmul(inputs, self.w) + self.b


x = ops.ones((2, 2))
linear_layer = Linear(4, 2)
print("Linear on ones:", ops.convert_to_numpy(linear_layer(x)).shape)
assert linear_layer.weights == [linear_layer.w, linear_layer.b]


class ComputeSum(keras.layers.Layer):
    def __init__(self, input_dim):
        super().__init__()
        self.total = self.add_weight(initializer="zeros", shape=(input_dim,), trainable=False)

    def call(self, inputs):
        self.total.assign(self.total + ops.sum(inputs, axis=0))
        return self.total


class LazyLinear(keras.layers.Layer):
    """Linear, with its weights made from the first input's shape."""

    def __init__(self, units=32):
        super().__init__()
        self.units = units

    def build(self, input_shape):
        self.w = self.add_weight(
            shape=(input_shape[-1], self.units), initializer="random_normal", trainable=True
        )
        self.b = self.add_weight(shape=(self.units,), initializer="random_normal", trainable=True)

    def call(self, inputs):
        return ops.matmul(inputs, self.w) + self.b


class MLPBlock(keras.layers.Layer):
    def __init__(self):
        super().__init__()
        self.linear_1 = LazyLinear(32)
        self.linear_2 = LazyLinear(32)
        self.linear_3 = LazyLinear(1)

    def call(self, inputs):
        x = keras.activations.relu(self.linear_1(inputs))
        x = keras.activations.relu(self.linear_2(x))
        return self.linear_3(x)


mlp = MLPBlock()
y = mlp(np.ones(shape=(3, 64), dtype="float32"))
print("MLPBlock weights:", len(mlp.weights), "trainable:", len(mlp.trainable_weights))


class ActivityRegularizationLayer(keras.layers.Layer):
    def __init__(self, rate=1e-2):
        super().__init__()
        self.rate = rate

    def call(self, inputs):
        self.add_loss(self.rate * ops.mean(inputs))
        return inputs


inputs = keras.Input(shape=(3,))
outputs = ActivityRegularizationLayer()(layers.Dense(3)(inputs))
model = keras.Model(inputs, outputs)
model.compile(optimizer="adam", loss="mse")
model.fit(np.random.random((2, 3)), np.random.random((2, 3)), verbose=0)
model.compile(optimizer="adam")  # the added loss alone is what is minimised
model.fit(np.random.random((2, 3)), np.random.random((2, 3)), verbose=0)


class ConfigurableLinear(keras.layers.Layer):
    def __init__(self, units=32, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        self.w = self.add_weight(
            shape=(input_shape[-1], self.units), initializer="random_normal", trainable=True
        )

    def call(self, inputs):
        return ops.matmul(inputs, self.w)

    def get_config(self):
        config = super().get_config()
        config.update({"units": self.units})
        return config


layer = ConfigurableLinear(64)
config = layer.get_config()
print("Config:", config)
new_layer = ConfigurableLinear.from_config(config)


class CustomDropout(keras.layers.Layer):
    def __init__(self, rate, **kwargs):
        super().__init__(**kwargs)
        self.rate = rate
        self.seed_generator = keras.random.SeedGenerator(1337)

    def call(self, inputs, training=None):
        if training:
            return keras.random.dropout(inputs, rate=self.rate, seed=self.seed_generator)
        return inputs


# --- the variational autoencoder ----------------------------------------------------------------
class Sampling(layers.Layer):
    """Draws z from the normal distribution N(z_mean, exp(z_log_var))."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.seed_generator = keras.random.SeedGenerator(1337)

    def call(self, inputs):
        z_mean, z_log_var = inputs
        batch = ops.shape(z_mean)[0]
        dim = ops.shape(z_mean)[1]
        epsilon = keras.random.normal(shape=(batch, dim), seed=self.seed_generator)
        return z_mean + ops.exp(0.5 * z_log_var) * epsilon


class Encoder(layers.Layer):
    """Maps MNIST digits to a triplet (z_mean, z_log_var, z)."""

    def __init__(self, latent_dim=32, intermediate_dim=64, name="encoder", **kwargs):
        super().__init__(name=name, **kwargs)
        self.dense_proj = layers.Dense(intermediate_dim, activation="relu")
        self.dense_mean = layers.Dense(latent_dim)
        self.dense_log_var = layers.Dense(latent_dim)
        self.sampling = Sampling()

    def call(self, inputs):
        x = self.dense_proj(inputs)
        z_mean = self.dense_mean(x)
        z_log_var = self.dense_log_var(x)
        z = self.sampling((z_mean, z_log_var))
        return z_mean, z_log_var, z


class Decoder(layers.Layer):
    """Turns the encoded digit vector z back into an image."""

    def __init__(self, original_dim, intermediate_dim=64, name="decoder", **kwargs):
        super().__init__(name=name, **kwargs)
        self.dense_proj = layers.Dense(intermediate_dim, activation="relu")
        self.dense_output = layers.Dense(original_dim, activation="sigmoid")

    def call(self, inputs):
        return self.dense_output(self.dense_proj(inputs))


class VariationalAutoEncoder(keras.Model):
    """The encoder and the decoder end to end, with the KL divergence as an added loss."""

    def __init__(
        self, original_dim, intermediate_dim=64, latent_dim=32, name="autoencoder", **kwargs
    ):
        super().__init__(name=name, **kwargs)
        self.original_dim = original_dim
        self.encoder = Encoder(latent_dim=latent_dim, intermediate_dim=intermediate_dim)
        self.decoder = Decoder(original_dim, intermediate_dim=intermediate_dim)

    def call(self, inputs):
        z_mean, z_log_var, z = self.encoder(inputs)
        reconstructed = self.decoder(z)
        kl_loss = -0.5 * ops.mean(z_log_var - ops.square(z_mean) - ops.exp(z_log_var) + 1)
        self.add_loss(kl_loss)
        return reconstructed


(x_train, _), (x_test, _) = keras.datasets.mnist.load_data()
x_train = x_train[:SAMPLES].reshape(-1, 784).astype("float32") / 255
x_test = x_test[:SAMPLES].reshape(-1, 784).astype("float32") / 255

vae = VariationalAutoEncoder(784, 64, 32)
optimizer = keras.optimizers.Adam(learning_rate=1e-3)
vae.compile(optimizer, loss=keras.losses.MeanSquaredError())
history = vae.fit(x_train, x_train, epochs=EPOCHS or 2, batch_size=64)
print("Final training loss:", history.history["loss"][-1])
print("Test loss:", vae.evaluate(x_test, x_test, verbose=0))

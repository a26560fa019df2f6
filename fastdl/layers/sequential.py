"""Sequential container: layers applied in order, parameters named ``"<index>.<name>"``."""

from ._base import Layer


class Sequential(Layer):
    """A stack of layers.

    ``params``, ``grads`` and ``buffers`` are dicts keyed ``"<i>.<name>"`` (e.g. ``"0.W"``,
    ``"3.running_mean"``) whose values are the layers' own arrays, so an optimizer that updates
    ``model.params`` in place updates the layers. They are rebuilt on every access, so they
    always show the layers' current arrays.

    Parameters
    ----------
    layers : list of Layer
    """

    def __init__(self, layers):
        super().__init__()
        self.layers = list(layers)
        for i, layer in enumerate(self.layers):
            if not all(hasattr(layer, a) for a in ("forward", "backward", "params", "grads")):
                raise TypeError(
                    f"Sequential: item {i} ({type(layer).__name__}) is not a layer: it needs "
                    f"forward, backward, params and grads"
                )

    def _collect(self, attr):
        return {
            f"{i}.{name}": value
            for i, layer in enumerate(self.layers)
            for name, value in getattr(layer, attr, {}).items()
        }

    @property
    def params(self):
        return self._collect("params")

    @params.setter
    def params(self, value):  # Layer.__init__ assigns an empty dict; a container has none
        if value:
            raise AttributeError("Sequential.params is derived from its layers")

    @property
    def grads(self):
        return self._collect("grads")

    @grads.setter
    def grads(self, value):
        if value:
            raise AttributeError("Sequential.grads is derived from its layers")

    @property
    def buffers(self):
        return self._collect("buffers")

    @buffers.setter
    def buffers(self, value):
        if value:
            raise AttributeError("Sequential.buffers is derived from its layers")

    def forward(self, x, train=True):
        for layer in self.layers:
            x = layer.forward(x, train)
        return x

    def backward(self, dout):
        for layer in reversed(self.layers):
            dout = layer.backward(dout)
        return dout

    def __len__(self):
        return len(self.layers)

    def __getitem__(self, i):
        return self.layers[i]

    def __repr__(self):
        inner = ",\n".join(f"  ({i}) {layer!r}" for i, layer in enumerate(self.layers))
        return f"Sequential(\n{inner}\n)"

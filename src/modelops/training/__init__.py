"""TrainFlow's library: data, candidates, fitting, selection, promotion; `steps` wires them."""

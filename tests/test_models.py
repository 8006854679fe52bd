import pytest
import torch

from vae_helpers.models import AE, MLPVAE, MODEL_REGISTRY, ConditionalVAE, ConvVAE, ConvVAE64, build_model

CASES = [
    (MLPVAE(), (1, 28, 28), 20),
    (MLPVAE(hidden=(512, 256), latent_dim=2), (1, 28, 28), 2),
    (AE(), (1, 28, 28), 20),
    (ConvVAE(latent_dim=16), (1, 28, 28), 16),
    (ConvVAE64(latent_dim=128), (3, 64, 64), 128),
    (ConditionalVAE(n_classes=10), (1, 28, 28), 20),
]


@pytest.mark.parametrize(
    "model, shape, latent", CASES, ids=lambda c: type(c).__name__ if isinstance(c, torch.nn.Module) else None
)
def test_interface_shapes(model, shape, latent):
    n = 5
    x = torch.rand(n, *shape)
    y = torch.arange(n) % 10
    mu, logvar = model.encode(x, y)
    assert mu.shape == (n, latent)
    assert logvar is None if isinstance(model, AE) else logvar.shape == (n, latent)
    logits = model.decode(mu, y)
    assert logits.shape == (n, *shape)
    out = model(x, y)
    assert out.logits.shape == (n, *shape) and out.z.shape == (n, latent)
    model.eval()
    samples = model.sample(3, y=torch.tensor(7) if model.conditional else None)
    assert samples.shape == (3, *shape) and samples.min() >= 0 and samples.max() <= 1
    recon = model.reconstruct(x, y)
    assert recon.shape == x.shape and 0 <= recon.min() and recon.max() <= 1


def test_parameter_counts_of_the_seed_models():
    assert MLPVAE().num_parameters() == 652_824  # 784-400-20, as in pytorch/examples
    assert AE().num_parameters() == 644_804


def test_training_mode_samples_and_eval_mode_uses_the_mean():
    torch.manual_seed(0)
    model = MLPVAE(latent_dim=3)
    x = torch.rand(4, 1, 28, 28)
    model.train()
    assert not torch.allclose(model(x).z, model(x).z)
    model.eval()
    out = model(x)
    assert torch.equal(out.z, out.mu)


@pytest.mark.parametrize("model", [m for m, _, _ in CASES], ids=lambda m: type(m).__name__)
def test_config_rebuilds_the_same_architecture(model):
    rebuilt = build_model(model.config())
    assert type(rebuilt) is type(model)
    rebuilt.load_state_dict(model.state_dict())  # would raise on any shape difference


def test_build_model_rejects_unknown_names():
    with pytest.raises(ValueError, match="known models"):
        build_model({"name": "Transformer"})
    assert set(MODEL_REGISTRY) == {"AE", "MLPVAE", "ConvVAE", "ConvVAE64", "ConditionalVAE", "AutoregressiveVAE"}


def test_conditional_vae_needs_labels_and_uses_them():
    torch.manual_seed(0)
    model = ConditionalVAE().eval()
    with pytest.raises(ValueError, match="needs the class labels"):
        model.encode(torch.rand(2, 1, 28, 28))
    z = torch.zeros(1, 20)
    assert not torch.allclose(model.decode(z, torch.tensor([1])), model.decode(z, torch.tensor([2])))


def test_models_hold_no_shared_class_state():
    a, b = MLPVAE(latent_dim=2), MLPVAE(latent_dim=5)
    assert a.config()["latent_dim"] == 2 and b.config()["latent_dim"] == 5


def test_gradients_flow_to_encoder_and_decoder():
    from vae_helpers.objective import model_objective as model_loss

    model = ConvVAE(latent_dim=4)
    terms = model_loss(model, torch.rand(3, 1, 28, 28), None)
    terms.loss.backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())


def test_layer_table_traces_the_documented_shapes_and_counts_every_parameter():
    from vae_helpers.models import format_layer_table, layer_table

    model = ConvVAE(latent_dim=20)
    rows = layer_table(model)
    convs = [shape for part, layer, shape, _ in rows if layer in ("Conv2d", "ConvTranspose2d")]
    assert convs == [(32, 14, 14), (64, 7, 7), (32, 14, 14), (1, 28, 28)]  # 28 -> 14 -> 7 -> 14 -> 28
    assert rows[0][0] == "encoder" and rows[-1][0] == "decoder"
    assert sum(params for *_, params in rows) == model.num_parameters()
    assert model.training  # the trace restores the mode it found
    assert format_layer_table(model).splitlines()[-1].endswith("1,691,369")

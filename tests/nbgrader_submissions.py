"""Typical wrong submissions, for tests/test_nbgrader.py: each is the solution notebook with the source of some
solution cells edited (``grade_id: [(old, new), ...]``, every ``old`` must occur); ``loses`` are the grade cells
that must score 0 (all other autograded cells keep their points), and ``messages`` must appear in the feedback.

One wrong submission per notebook: every submission is a full run of the notebook, so the typical mistakes of a
notebook are combined in one (each in its own exercise); the checks' other diagnoses are unit-tested in
tests/test_exercises*.py without running notebooks."""

SUBMISSIONS = {
    "01_autoencoder_limitations": {
        "variance_and_prior_noise": {
            "edits": {
                "ex1_empirical_gaussian": [
                    ("return codes.mean(0), codes.std(0)", "return codes.mean(0), codes.var(0)")
                ],
                "ex2_decode_samples": [("decode(mean + std * eps)", "decode(eps)")],
            },
            "loses": ["ex1_check", "ex1_hidden", "ex2_check", "ex2_hidden"],
            "messages": ["This is the *variance*", "a sample of N(0, I)"],
        },
    },
    "06_conv_vae": {
        "conv_without_bias_no_padding": {
            "edits": {
                "ex1_param_counts": [("conv = c_out * c_in * k * k + c_out", "conv = c_out * c_in * k * k")],
                "ex2_conv_encoder": [
                    (
                        "nn.Conv2d(1, 32, kernel_size=4, stride=2, padding=1)",
                        "nn.Conv2d(1, 32, kernel_size=4, stride=2)",
                    )
                ],
                "ex3_conv_decoder": [
                    (
                        "nn.ConvTranspose2d(64, 32, kernel_size=4, stride=2, padding=1)",
                        "nn.ConvTranspose2d(64, 32, kernel_size=4, stride=2)",
                    )
                ],
            },
            "loses": ["ex1_check", "ex1_hidden", "ex2_check", "ex2_hidden", "ex3_check", "ex3_hidden"],
            "messages": ["you forgot the biases", "it has no padding", "kernel 4, stride 2 needs padding 1"],
        },
    },
    "08_beta_vae_and_likelihoods": {
        "detached_recon_detached_gaussian": {
            "edits": {
                "ex1_beta_vae_loss": [
                    (
                        "binary_cross_entropy_with_logits(logits, x,",
                        "binary_cross_entropy_with_logits(logits.detach(), x,",
                    )
                ],
                "ex2_gaussian_nll": [("(x - torch.sigmoid(logits))", "(x - torch.sigmoid(logits).detach())")],
            },
            "loses": ["ex1_check", "ex1_hidden", "ex2_check", "ex2_hidden"],
            "messages": ["no gradient reaches `logits`", "connected to `logits`"],
        },
    },
    "09_collapse_and_conditional_vae": {
        "free_bits_per_image_plain_elbo_unconditioned_decoder": {
            "edits": {
                "ex1_schedules": [
                    (
                        "kl_per_dim(mu, logvar).mean(0).clamp(min=free_bits).sum()",
                        "kl_per_dim(mu, logvar).clamp(min=free_bits).sum(1).mean()",
                    )
                ],
                "ex1d_train": [("free_bits=0.5", "free_bits=0.0")],  # the plain ELBO: the code collapses
                "ex2a_cvae": [("torch.cat([z, onehot], 1)", "torch.cat([z, torch.zeros_like(onehot)], 1)")],
            },
            "loses": ["ex1_check", "ex1_hidden", "ex1d_check", "ex1d_hidden", "ex2a_check", "ex2a_hidden"],
            "messages": [
                "batch-averaged",
                "The code is hardly used",
                "the decoder's output does not depend on the label",
            ],
        },
    },
    "05_mlp_vae": {
        "recon_mean_over_pixels_probe_on_training_codes_sigmoid_in_decode": {
            "edits": {
                "ex1_vae_loss": [
                    (
                        'F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1).mean()',
                        "F.binary_cross_entropy_with_logits(logits, x)",
                    )
                ],
                "ex2_linear_probe": [
                    (
                        "clf.score(scaler.transform(test_codes.numpy()), test_labels.numpy())",
                        "clf.score(scaler.transform(train_codes.numpy()), train_labels.numpy())",
                    )
                ],
                "ex3_vae_module": [
                    (
                        "return self.dec_logits(F.relu(self.dec_hidden(z)))",
                        "return torch.sigmoid(self.dec_logits(F.relu(self.dec_hidden(z))))",
                    )
                ],
            },
            "loses": ["ex1_check", "ex1_hidden", "ex2_check", "ex2_hidden", "ex3_check", "ex3_hidden"],
            "messages": [
                "averaging the reconstruction term over pixels",
                "accuracy on the *training* codes",
                "a sigmoid inside decode",
            ],
        },
    },
    "07_latent_dimension_study": {
        "threshold_on_std_unsorted_kl": {
            "edits": {
                "ex1_active_units": [
                    ("int((variances > threshold).sum())", "int((variances.sqrt() > threshold).sum())")
                ],
                "ex2_kl_dims": [("s = kl.sort(descending=True).values", "s = kl")],
            },
            "loses": ["ex1_check", "ex1_hidden", "ex2_check", "ex2_hidden"],
            "messages": ["compared the standard deviation with the threshold", "original order"],
        },
    },
    "10_celeba_faces": {
        "reversed_vector_alpha_on_z": {
            "edits": {
                "ex1_attribute_vector": [
                    (
                        "return codes[has].mean(0) - codes[~has].mean(0)",
                        "return codes[~has].mean(0) - codes[has].mean(0)",
                    )
                ],
                "ex2_edit": [
                    (
                        "z[:, None, :] + a[None, :, None] * v[None, None, :]",
                        "a[None, :, None] * z[:, None, :] + v[None, None, :]",
                    )
                ],
            },
            "loses": ["ex1_check", "ex1_hidden", "ex2_check", "ex2_hidden"],
            "messages": ["It points the wrong way", "You applied alpha to z"],
        },
    },
}

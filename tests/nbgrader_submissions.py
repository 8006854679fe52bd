"""Typical wrong submissions, for tests/test_nbgrader.py: each is the solution notebook with the source of some
solution cells edited (``grade_id: [(old, new), ...]``, every ``old`` must occur); ``loses`` are the grade cells
that must score 0 (all other autograded cells keep their points), and ``messages`` must appear in the feedback.

One submission per notebook, autograded once: every submission is a full run of the notebook, so each one is wrong
in some exercises and right in at least one other. The run then shows both halves of grading under nbgrader: the
wrong exercises lose exactly their cells (with the teaching message in the feedback) and the right ones keep every
point. The checks' other diagnoses are unit-tested in tests/test_exercises*.py without running notebooks."""

SUBMISSIONS = {
    "01_autoencoder_limitations": {
        "variance_instead_of_std": {
            "edits": {
                "ex1_empirical_gaussian": [
                    ("return codes.mean(0), codes.std(0)", "return codes.mean(0), codes.var(0)")
                ],
            },
            "loses": ["ex1_check", "ex1_hidden"],
            "messages": ["This is the *variance*"],
        },
    },
    "02_elbo_and_kl": {
        "kl_averaged_over_dimensions": {
            "edits": {
                "ex1_kl_closed_form": [("logvar.exp() - logvar - 1).sum(-1)", "logvar.exp() - logvar - 1).mean(-1)")]
            },
            "loses": ["ex1_check", "ex1_hidden"],
            "messages": ["You average over latent dimensions"],
        },
    },
    "04_reparameterization": {
        "noise_scaled_by_the_variance": {
            "edits": {
                "ex1_reparameterize": [
                    ("return mu + torch.exp(0.5 * logvar) * eps", "return mu + torch.exp(logvar) * eps")
                ]
            },
            "loses": ["ex1_check", "ex1_hidden"],
            "messages": ["You multiply eps by the variance exp(logvar)"],
        },
    },
    "06_conv_vae": {
        "conv_without_bias_decoder_without_padding": {
            "edits": {
                "ex1_param_counts": [("conv = c_out * c_in * k * k + c_out", "conv = c_out * c_in * k * k")],
                "ex3_conv_decoder": [
                    (
                        "nn.ConvTranspose2d(64, 32, kernel_size=4, stride=2, padding=1)",
                        "nn.ConvTranspose2d(64, 32, kernel_size=4, stride=2)",
                    )
                ],
            },
            "loses": ["ex1_check", "ex1_hidden", "ex3_check", "ex3_hidden"],
            "messages": ["you forgot the biases", "kernel 4, stride 2 needs padding 1"],
        },
    },
    "08_beta_vae_and_likelihoods": {
        "detached_reconstruction": {
            "edits": {
                "ex1_beta_vae_loss": [
                    (
                        "binary_cross_entropy_with_logits(logits, x,",
                        "binary_cross_entropy_with_logits(logits.detach(), x,",
                    )
                ],
            },
            "loses": ["ex1_check", "ex1_hidden"],
            "messages": ["no gradient reaches `logits`"],
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
        "recon_mean_over_pixels_sigmoid_in_decode": {
            "edits": {
                "ex1_vae_loss": [
                    (
                        'F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1).mean()',
                        "F.binary_cross_entropy_with_logits(logits, x)",
                    )
                ],
                "ex3_vae_module": [
                    (
                        "return self.dec_logits(F.relu(self.dec_hidden(z)))",
                        "return torch.sigmoid(self.dec_logits(F.relu(self.dec_hidden(z))))",
                    )
                ],
            },
            "loses": ["ex1_check", "ex1_hidden", "ex3_check", "ex3_hidden"],
            "messages": ["averaging the reconstruction term over pixels", "a sigmoid inside decode"],
        },
    },
    "07_latent_dimension_study": {
        "threshold_on_std": {
            "edits": {
                "ex1_active_units": [
                    ("int((variances > threshold).sum())", "int((variances.sqrt() > threshold).sum())")
                ],
            },
            "loses": ["ex1_check", "ex1_hidden"],
            "messages": ["compared the standard deviation with the threshold"],
        },
    },
    "10_celeba_faces": {
        "reversed_vector": {
            "edits": {
                "ex1_attribute_vector": [
                    (
                        "return codes[has].mean(0) - codes[~has].mean(0)",
                        "return codes[~has].mean(0) - codes[has].mean(0)",
                    )
                ],
            },
            "loses": ["ex1_check", "ex1_hidden"],
            "messages": ["It points the wrong way"],
        },
    },
}

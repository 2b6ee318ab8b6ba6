"""The built-in face's FACS channel layout and the PSPI read-out."""

import numpy as np
import pytest

from paindiffusion_ros.face import facs
from paindiffusion_ros.face.binding import FaceBindingError, get_binding, require_binding


def test_layout_has_50_unique_channels_including_pspi_units():
    assert len(facs.EXPRESSION_CHANNELS) == 50 == len(set(facs.EXPRESSION_CHANNELS))
    assert facs.LATENT_DIM == 53
    for au in ("AU1", "AU2", "AU4", "AU5", "AU6", "AU7", "AU9", "AU10", "AU12", "AU15", "AU17",
               "AU20", "AU23", "AU25", "AU43", "AU45"):
        assert facs.au_indices(au)


def test_pspi_matches_hand_computed_value():
    e = np.zeros((2, 50), np.float32)
    e[1, list(facs.au_indices("AU4"))] = [2.0, 4.0]   # AU4 = 3
    e[1, list(facs.au_indices("AU6"))] = 1.0          # AU6 = 1
    e[1, list(facs.au_indices("AU7"))] = 2.5          # AU7 = 2.5 -> max 2.5
    e[1, facs.channel_index("AU9")] = 1.5             # AU9 = 1.5
    e[1, list(facs.au_indices("AU10"))] = [0.0, 1.0]  # AU10 = 0.5 -> max 1.5
    e[1, list(facs.au_indices("AU43"))] = 1.0         # eyes closed = 1
    e[1, list(facs.au_indices("AU12"))] = 5.0         # not a PSPI unit
    np.testing.assert_allclose(facs.pspi(e), [0.0, 3.0 + 2.5 + 1.5 + 1.0])


def test_full_intensity_reaches_pspi_max():
    assert facs.pspi(facs.CHANNEL_MAX)[()] == pytest.approx(facs.PSPI_MAX)


def test_out_of_range_channels_are_clipped_into_the_facs_range_before_the_read_out():
    e = np.zeros((2, 50), np.float32)
    e[0] = -0.1                                       # a decoded frame just below neutral
    e[1, list(facs.au_indices("AU4"))] = [-1.0, 3.0]  # sides clipped to 0 and 3 -> AU4 = 1.5
    e[1, list(facs.au_indices("AU43"))] = 1.4         # eye closure tops out at 1
    np.testing.assert_allclose(facs.pspi(e), [0.0, 1.5 + 1.0])
    assert facs.pspi(facs.CHANNEL_MAX * 2)[()] == pytest.approx(facs.PSPI_MAX)


def test_wrong_width_and_unknown_names_are_clear_errors():
    with pytest.raises(ValueError, match="50 expression channels"):
        facs.pspi(np.zeros(53))
    with pytest.raises(KeyError, match="AU99"):
        facs.channel_index("AU99")


def test_binding_lookup_and_mismatch():
    assert get_binding("builtin-facs-53").latent_dim == 53
    with pytest.raises(FaceBindingError, match="unknown face binding"):
        get_binding("smpl-10")
    with pytest.raises(FaceBindingError, match="flame-emoca-53"):
        require_binding("flame-emoca-53", "builtin-facs-53", "checkpoint models/x")

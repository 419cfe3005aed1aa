"""Small multi-modal reference models on synthetic data, for the end-to-end pipeline and ``mmcert demo``.

* :mod:`.av` -- audio-visual emotion-like classifier (32 frames of 8x8 + 400 audio samples, 7 classes)
* :mod:`.road` -- RGB + depth road segmenter (32 x 96 scenes)
* ``*_data`` -- deterministic data generators (``labelled_sets``: their shared split and indexing);
  ``*_model`` -- the networks; ``ablation_training`` -- the AV and road training recipes;
  ``train_av`` / ``train_road`` -- training scripts; ``tune_k`` -- the baseline's k
* ``weights/*.safetensors`` -- committed weights; ``*.toml`` -- the demo's run configs
* :mod:`.demo` -- ``mmcert demo`` itself (the verb in ``mmcert_verified.cli.demo`` loads it lazily)

The data are synthetic stand-ins for RAVDESS and KITTI Road, which cannot be fetched where this
package is built; ``docs/end_to_end.md`` says how to point the same pipeline at the real data.
"""

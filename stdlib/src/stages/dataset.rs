//! `dataset.*`: signatures of every dataset stage, one function each, and which
//! implementation runs it. Decoding and generation live in `crate::data`.

use super::common::*;
use crate::params::Seed;
use crate::stage::StageDef;
use crate::task_kinds;
use pipe_lang::catalog::ParamSig;
use pipe_lang::types::Type;

pub fn defs() -> Vec<StageDef> {
    vec![
        digits(),
        mnist(),
        cifar10(),
        image_folder(),
        shapes(),
        moving_shapes(),
        coco_vid(),
        av_events(),
        ave(),
        regions(),
        split(),
        sample(),
        labeled(),
    ]
}

fn classify() -> Type {
    Type::Dataset(Some(task_kinds::CLASSIFY))
}

fn digits() -> StageDef {
    def(
        sig(
            "dataset",
            "digits",
            "The real UCI optical digits: 1,797 handwritten 8×8 images (1 channel), 10 \
             classes, pixels scaled from 0..16 to [0, 1]. Embedded in the binary (CC BY 4.0, \
             E. Alpaydin and C. Kaynak, 1998).",
            vec![],
            classify(),
        ),
        Some(crate::data::digits::run),
    )
}

fn mnist() -> StageDef {
    def(
        sig(
            "dataset",
            "mnist",
            "MNIST-format digits from IDX files (gzip-compressed or raw): 28×28 images, 10 \
             classes, pixels scaled to [0, 1].",
            vec![
                path(
                    "images",
                    "IDX image file (magic 2051), e.g. `train-images-idx3-ubyte.gz`.",
                ),
                path(
                    "labels",
                    "IDX label file (magic 2049) with one label per image.",
                ),
            ],
            classify(),
        ),
        Some(crate::data::idx::run),
    )
}

fn cifar10() -> StageDef {
    def(
        sig(
            "dataset",
            "cifar10",
            "CIFAR-10 from its binary distribution: 32×32 RGB images, 10 classes, read from \
             `data_batch_1.bin`..`data_batch_5.bin` (train) or `test_batch.bin` (test), \
             3,073-byte records (label byte, then 1,024 red, green and blue bytes).",
            vec![
                path(
                    "dir",
                    "Directory holding the `.bin` batches (e.g. `cifar-10-batches-bin`).",
                ),
                choice(
                    "split",
                    "train",
                    &["train", "test"],
                    "`train`: the five data batches; `test`: the test batch.",
                ),
            ],
            classify(),
        ),
        Some(crate::data::cifar::run),
    )
}

fn image_folder() -> StageDef {
    def(
        sig(
            "dataset",
            "image_folder",
            "Images in class-per-folder layout (torchvision's `ImageFolder`): `dir/CLASS/*.png` \
             or `.jpg`/`.jpeg`. Classes are the sub-folders in sorted order, files sorted \
             within a class; every image is brought to `size`×`size`, pixels scaled to \
             [0, 1]. An unreadable file, an empty class or (with `resize: \"none\"`) a file of \
             another size is an error naming the file.",
            vec![
                path(
                    "dir",
                    "The folder holding one sub-folder of images per class.",
                ),
                int("size", 32, 4, 1024, "Side of the square images, in pixels."),
                choice(
                    "channels",
                    "rgb",
                    &["rgb", "gray"],
                    "`rgb`: 3 channels; `gray`: 1 channel (ITU-R 601 luma).",
                ),
                choice(
                    "resize",
                    "crop",
                    &["crop", "stretch", "none"],
                    "`crop`: shorter side to `size` (bilinear), then the central square \
                     (torchvision's `Resize` + `CenterCrop`); `stretch`: both sides to \
                     `size`; `none`: every image must already be `size`×`size`.",
                ),
                flag(
                    "stream",
                    false,
                    "Read the images from their files a batch at a time instead of \
                     decoding the folder into memory: for a folder larger than memory. \
                     Each epoch decodes every image again (as a PyTorch `DataLoader` \
                     does); the numbers are the same as in memory. Read by `model.*` \
                     (as `input:`), `train.supervised`, `eval.classify` and \
                     `dataset.split` / `sample` / `labeled`; other stages ask for the \
                     images in memory.",
                ),
            ],
            classify(),
        ),
        Some(crate::data::image_folder::run),
    )
}

fn shapes() -> StageDef {
    def(
        sig(
            "dataset",
            "shapes",
            "Procedural grayscale images, one shape kind per class (circle, square, \
             triangle, cross, ring, diamond, horizontal bar, vertical bar) at a random \
             position, size and intensity, with Gaussian pixel noise. Class-balanced; \
             deterministic for a seed.",
            vec![
                int("n", 1000, 1, 1_000_000, "Number of images."),
                int("size", 16, 8, 256, "Image side in pixels."),
                int("classes", 4, 2, 8, "Number of shape classes (the first `classes` kinds)."),
                Seed::param(),
                float(
                    "noise",
                    0.05,
                    0.0,
                    1.0,
                    "Standard deviation of the Gaussian pixel noise (pixels are clipped to [0, 1]).",
                )
                .default_note("project default, not from a paper: mild noise that keeps every class separable"),
            ],
            classify(),
        ),
        Some(crate::data::shapes::run),
    )
}

fn moving_shapes() -> StageDef {
    def(
        sig(
            "dataset",
            "moving_shapes",
            "Procedural videos for semi-supervised video detection (SSVOD): objects of \
             several classes moving with known velocities, occluding each other, entering \
             and leaving; boxes and classes per frame and the true per-pixel motion. Only \
             every `labeled_every`-th frame's labels are visible to training; the rest are \
             kept hidden for evaluation.",
            vec![
                int("videos", 20, 1, 100_000, "Number of videos."),
                int("frames", 30, 2, 10_000, "Frames per video."),
                int("size", 64, 16, 512, "Frame side in pixels."),
                int("objects", 3, 1, 64, "Objects per video (at most)."),
                int("classes", 3, 1, 8, "Number of object classes."),
                int(
                    "labeled_every",
                    10,
                    1,
                    10_000,
                    "Frames whose labels training may see: one in every `labeled_every`.",
                ),
                Seed::param(),
                float("max_speed", 2.0, 0.0, 64.0, "Largest object speed in pixels per frame.")
                    .default_note("project default, not from the paper: slow enough for optical flow on small frames"),
                float(
                    "noise",
                    0.02,
                    0.0,
                    1.0,
                    "Standard deviation of the Gaussian pixel noise, drawn afresh for every frame.",
                )
                .default_note(
                    "project default, not from the paper: camera-like noise that flow and detector must tolerate",
                ),
            ],
            Type::Dataset(Some(task_kinds::VIDEO_DETECT)),
        ),
        Some(crate::data::moving_shapes::run),
    )
}

fn coco_vid() -> StageDef {
    def(
        sig(
            "dataset",
            "coco_vid",
            "Real annotated video in the COCO-VID JSON layout: `videos`, `images` with \
             `video_id` and `frame_id`, `annotations` with `bbox` [x, y, w, h] and \
             `category_id`; image files (PNG or JPEG) are read from `images`.",
            vec![
                path("annotations", "COCO-VID annotation JSON file."),
                path(
                    "images",
                    "Directory the `file_name` of each image is relative to.",
                ),
                int(
                    "labeled_every",
                    1,
                    1,
                    10_000,
                    "Frames whose labels training may see: one in every `labeled_every` of \
                     each video (in `frame_id` order); the rest are kept for evaluation.",
                ),
            ],
            Type::Dataset(Some(task_kinds::VIDEO_DETECT)),
        ),
        Some(crate::data::coco_vid::run),
    )
}

fn av_events() -> StageDef {
    def(
        sig(
            "dataset",
            "av_events",
            "Procedural audio-visual event sequences like AVE: videos of one-second \
             segments, each with an audio and a visual feature vector and an event class \
             or background; events start and stop mid-video, with distractor sounds that \
             have no matching visual and the reverse, and one-second glitches (an event \
             second that fades, a blip too short to be an event). Deterministic for a seed.",
            vec![
                int("videos", 400, 1, 1_000_000, "Number of videos."),
                int("segments", 10, 1, 1000, "One-second segments per video (AVE: 10)."),
                int("classes", 10, 1, 28, "Event classes (AVE has 28); background is extra."),
                Seed::param(),
                int("audio_dim", 128, 1, 4096, "Audio feature size (AVE's VGGish features: 128)."),
                int("visual_dim", 512, 1, 4096, "Visual feature size (AVE's VGG-19 pooled features: 512)."),
                float(
                    "distractors",
                    0.5,
                    0.0,
                    1.0,
                    "Probability that a video carries 1-3 background seconds with a sound of \
                     another class and no matching visual, or the reverse.",
                )
                .default_note("project default, not from the paper: enough distractors that cross-modal agreement matters"),
                float(
                    "glitches",
                    0.5,
                    0.0,
                    1.0,
                    "Probability that a video carries a one-second glitch: an event second that \
                     fades (still the event) or a one-second blip of the class between background \
                     seconds (background).",
                )
                .default_note("project default, not from the paper: isolated errors for post-processing to remove"),
                float(
                    "noise",
                    1.5,
                    0.0,
                    100.0,
                    "Standard deviation of the noise in each modality's 16-dimensional latent \
                     space, where an event prototype is a shared event direction of length 3 plus a \
                     class direction of length 2 (features are a fixed projection of the latent).",
                )
                .default_note("project default, not from the paper: one segment alone is ambiguous (about 80% accuracy)"),
            ],
            Type::Dataset(Some(task_kinds::AV_EVENT)),
        ),
        Some(crate::data::av::run),
    )
}

fn ave() -> StageDef {
    def(
        sig(
            "dataset",
            "ave",
            "The real AVE benchmark from its shared HDF5 feature files: `audio_feature.h5` \
             [N,10,128], `visual_feature.h5` [N,10,7,7,512], `labels.h5` [N,10,29] one-hot \
             (28 events + background), each under the key `avadataset`, and \
             `{train,val,test}_order.h5` with video indices under the key `order`.",
            vec![
                override_path(
                    "dir",
                    "Directory holding the AVE `.h5` files; empty: use `fallback` instead \
                     (so one pipeline runs procedurally by default and on AVE with `--set`).",
                ),
                choice(
                    "split",
                    "train",
                    &["train", "val", "test"],
                    "Which order file selects the videos.",
                ),
                ParamSig::optional(
                    "fallback",
                    Type::Any,
                    pipe_lang::value::Value::List(Vec::new()),
                    "An audio-visual dataset (e.g. from `dataset.av_events`) given back as is \
                     when `dir` is empty.",
                ),
            ],
            Type::Dataset(Some(task_kinds::AV_EVENT)),
        ),
        Some(crate::data::ave_h5::run),
    )
}

fn regions() -> StageDef {
    def(
        sig(
            "dataset",
            "regions",
            "Procedural images made of several regions (shapes, textures, colours), each \
             with a pixel mask and a noun; the vocabulary is split into seen nouns (training) \
             and unseen nouns (test only), with nouns that share attributes so unseen ones \
             can be recognised from their parts (OVSeg). Deterministic for a seed.",
            vec![
                int("n", 500, 1, 1_000_000, "Number of images."),
                int("size", 32, 8, 512, "Image side in pixels."),
                int("vocab", 12, 2, 1000, "Number of nouns in the vocabulary."),
                Seed::param(),
                float(
                    "unseen",
                    0.25,
                    0.0,
                    0.9,
                    "Fraction of the nouns held out from training.",
                )
                .default_note("project default, not from the paper"),
                int(
                    "regions",
                    3,
                    1,
                    16,
                    "Regions per image (at most), the background included.",
                ),
                choice(
                    "part",
                    "train",
                    &["train", "test"],
                    "`train` draws only seen nouns, `test` every noun; the two parts of one seed \
                     are different images.",
                ),
            ],
            Type::Dataset(Some(task_kinds::SEGMENT)),
        ),
        Some(crate::data::regions::run),
    )
}

fn split() -> StageDef {
    let out = record(&[
        ("train", Type::Dataset(None)),
        ("test", Type::Dataset(None)),
    ]);
    def(
        keeps_task(
            sig(
                "dataset",
                "split",
                "Splits a dataset into `{train, test}`. Stratified by class (each class is \
                 shuffled and split in the same proportion, so both parts keep the class \
                 balance) unless `stratify: false`, which shuffles all samples together.",
                vec![
                    dataset("data", ANY_TASK, "The dataset to split."),
                    float(
                        "test",
                        0.2,
                        0.0,
                        1.0,
                        "Fraction of samples in the test part.",
                    ),
                    Seed::param(),
                    flag(
                        "stratify",
                        true,
                        "Split each class separately in the same proportion.",
                    ),
                ],
                out,
            ),
            "data",
        ),
        Some(crate::data::subsets::run_split),
    )
}

fn sample() -> StageDef {
    def(
        keeps_task(
            sig(
                "dataset",
                "sample",
                "`n` samples drawn without replacement, uniformly at random (e.g. a \
                 calibration set).",
                vec![
                    dataset("data", ANY_TASK, "The dataset to draw from."),
                    required_int(
                        "n",
                        1,
                        1_000_000_000,
                        "Number of samples; at most the dataset's size.",
                    ),
                    Seed::param(),
                ],
                Type::Dataset(None),
            ),
            "data",
        ),
        Some(crate::data::subsets::run_sample),
    )
}

fn labeled() -> StageDef {
    let out = record(&[
        ("labeled", Type::Dataset(None)),
        ("unlabeled", Type::Dataset(None)),
    ]);
    def(
        keeps_task(
            sig(
                "dataset",
                "labeled",
                "Splits a dataset into `{labeled, unlabeled}` for semi-supervised learning: \
                 a stratified `fraction` keeps its labels (at least one sample per class); \
                 the rest keeps its true labels only for evaluation.",
                vec![
                    dataset("data", ANY_TASK, "The dataset to split."),
                    float(
                        "fraction",
                        0.1,
                        0.0,
                        1.0,
                        "Fraction of samples that keep their labels.",
                    ),
                    Seed::param(),
                ],
                out,
            ),
            "data",
        ),
        Some(crate::data::subsets::run_labeled),
    )
}

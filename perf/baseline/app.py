"""The captioning service a Triton user would write instead of the gateway: the benchmarks' baseline.

FastAPI + PIL + NVIDIA's tritonclient, over the same model server and the same models:

    POST /caption   multipart field `image` (or a raw image/* body), optional query
                    `max_new_tokens` and `min_new_tokens`  ->  {"caption": str, "tokens": int}
    GET  /healthz   {"status": "ok"} once the model configs are read

Each caption: PIL opens the upload (RGB, alpha flattened onto white), resizes and normalises it
as the encoder's config.pbtxt parameters say, one caption_encoder call, then the stateless greedy
loop over caption_decoder: one tritonclient infer per step carrying the right-padded prefix and
the image embeddings, argmax of the returned logits, until eos or the token budget; the
`tokenizers` library turns the ids into text. No prompt, no beams, no options beyond the token
budget (the BLIP benchmark makes every caption the same length).

What it deliberately does not do, because a typical service of this kind does not: batch the
steps of concurrent requests, cache anything between steps or requests, stream, bound its queue,
time out, limit upload sizes or pixels, or use shared memory. Endpoints are plain `def`s, run on
FastAPI's thread pool, sharing one gRPC client (tritonclient's is thread-safe without streams).

Environment: TRITON_URL (localhost:8001), MODEL_REPOSITORY (model_repository: where the
decoder's tokenizer.json is, as for the gateway), CAPTION_ENCODER_MODEL, CAPTION_DECODER_MODEL.
"""

import io
import os

import numpy as np
import tritonclient.grpc as grpcclient
from fastapi import Depends, FastAPI, HTTPException, Request
from PIL import Image, ImageOps, UnidentifiedImageError
from tokenizers import Tokenizer

TRITON_URL = os.environ.get("TRITON_URL", "localhost:8001")
MODEL_REPOSITORY = os.environ.get("MODEL_REPOSITORY", "model_repository")
ENCODER = os.environ.get("CAPTION_ENCODER_MODEL", "caption_encoder")
DECODER = os.environ.get("CAPTION_DECODER_MODEL", "caption_decoder")

RESAMPLE = {"bicubic": Image.Resampling.BICUBIC, "bilinear": Image.Resampling.BILINEAR, "nearest": Image.Resampling.NEAREST}

client = grpcclient.InferenceServerClient(TRITON_URL)


def model_config(name):
    """The model's config from the server (once, at start-up) and its string parameters."""
    config = client.get_model_config(name, as_json=True)["config"]
    # MessageToJson leaves out empty strings (proto3 defaults), such as an empty default_prompt.
    params = {k: v.get("string_value", "") for k, v in config.get("parameters", {}).items()}
    return config, params


# ---- start-up: everything the loop needs, from the configs the server holds ----
enc_config, enc_params = model_config(ENCODER)
IMAGE_INPUT = next(i["name"] for i in enc_config["input"] if len(i["dims"]) == 3)
EMBEDS_OUTPUT = enc_config["output"][0]["name"]
SIZE = int(enc_params["image_size"])
if enc_params.get("resize_mode", "squash") != "squash":
    raise SystemExit(f"{ENCODER}: only resize_mode squash is implemented")
RESAMPLE_FILTER = RESAMPLE[enc_params.get("resample", "bicubic")]
RESCALE = float(enc_params.get("rescale_factor", 1 / 255))
MEAN = np.array([float(x) for x in enc_params["image_mean"].split(",")], dtype=np.float32)
STD = np.array([float(x) for x in enc_params["image_std"].split(",")], dtype=np.float32)

dec_config, dec_params = model_config(DECODER)
MAX_LENGTH = int(dec_params["max_length"])
BOS, EOS, PAD = (int(dec_params[k]) for k in ("bos_token_id", "eos_token_id", "pad_token_id"))
MAX_NEW_TOKENS = int(dec_params.get("max_new_tokens", 20))
tokenizer = Tokenizer.from_file(os.path.join(MODEL_REPOSITORY, DECODER, dec_params.get("tokenizer", "tokenizer.json")))
# BLIP's decoder starts from [DEC] in place of [CLS], without the final [SEP] (empty prompt here).
PREFIX = [BOS] + tokenizer.encode(dec_params.get("default_prompt", "")).ids[1:-1]

app = FastAPI(title="caption baseline (FastAPI + PIL + tritonclient)")


def pixel_values(data):
    """The upload as the encoder's [1, 3, S, S] FP32 input, the way the gateway preprocesses it."""
    try:
        image = ImageOps.exif_transpose(Image.open(io.BytesIO(data)))
        if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
            rgba = image.convert("RGBA")
            image = Image.alpha_composite(Image.new("RGBA", rgba.size, "white"), rgba)
        image = image.convert("RGB").resize((SIZE, SIZE), RESAMPLE_FILTER)
    except (UnidentifiedImageError, OSError) as err:
        raise HTTPException(422, f"cannot read the image: {err}") from err
    x = (np.asarray(image, dtype=np.float32) * RESCALE - MEAN) / STD
    return np.ascontiguousarray(x.transpose(2, 0, 1)[None])


def tensor(name, array, datatype):
    t = grpcclient.InferInput(name, list(array.shape), datatype)
    t.set_data_from_numpy(array)
    return t


def caption_image(data, max_new_tokens, min_new_tokens):
    embeds = client.infer(ENCODER, [tensor(IMAGE_INPUT, pixel_values(data), "FP32")]).as_numpy(EMBEDS_OUTPUT)
    sequence, tokens = list(PREFIX), []
    while len(tokens) < max_new_tokens and len(sequence) < MAX_LENGTH:
        ids = np.full((1, MAX_LENGTH), PAD, dtype=np.int64)
        ids[0, : len(sequence)] = sequence
        mask = np.zeros((1, MAX_LENGTH), dtype=np.int64)
        mask[0, : len(sequence)] = 1
        inputs = [tensor("input_ids", ids, "INT64"), tensor("attention_mask", mask, "INT64"), tensor("image_embeds", embeds, "FP32")]
        logits = client.infer(DECODER, inputs).as_numpy("logits")[0]
        if len(tokens) < min_new_tokens:
            logits = logits.copy()  # as_numpy's array views the response and is read-only
            logits[EOS] = -np.inf
        token = int(np.argmax(logits))
        if token == EOS:
            break
        tokens.append(token)
        sequence.append(token)
    # As the gateway (and BLIP) does, the caption includes the prompt it continues.
    text = tokenizer.decode(PREFIX[1:] + tokens, skip_special_tokens=True).strip()
    return {"caption": text, "tokens": len(tokens)}


async def upload(request: Request):
    """The image bytes: multipart field `image`, or the whole body. Async, so the sync endpoint gets bytes."""
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        form = await request.form()
        image = form.get("image")
        if image is None or isinstance(image, str):
            raise HTTPException(400, "multipart field 'image' (a file) is required")
        return await image.read()
    return await request.body()


@app.post("/caption")
def caption(data: bytes = Depends(upload), max_new_tokens: int = MAX_NEW_TOKENS, min_new_tokens: int = 0):
    return caption_image(data, max_new_tokens, min_new_tokens)


@app.get("/healthz")
def healthz():
    return {"status": "ok"}

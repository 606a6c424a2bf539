// Package hub downloads GGUF models from the Hugging Face Hub into the
// Hub's own cache, so that strata, llama.cpp's -hf and huggingface-cli share
// the files, and finds them there again without the network.
//
// A model is named REPO[:TAG | :FILE] (see ParseName): a repository such as
// bartowski/Mistral-7B-Instruct-v0.3-GGUF, optionally with a quantization
// tag (Q4_K_M, matched against the GGUF file names as llama.cpp does) or a
// file path inside the repository. A few short aliases name the models
// strata targets (Aliases).
//
// Pulling asks the Hub's API for the files of the repository's main branch
// at one commit (GET /api/models/REPO/revision/main?blobs=true), with each
// file's size and the sha256 of its LFS object; then, for each file of the
// model (every part of a split GGUF), asks the resolve URL
// (HEAD /REPO/resolve/COMMIT/FILE, which redirects to a CDN and carries
// X-Repo-Commit, X-Linked-Etag and X-Linked-Size) where its bytes are, and
// fetches them in a few parallel byte ranges. The Authorization header
// (HF_TOKEN) goes to the Hub only, never to another host.
//
// The cache is the Hub's layout (HF_HUB_CACHE, else $HF_HOME/hub, else
// ~/.cache/huggingface/hub):
//
//	models--ORG--NAME/blobs/SHA256                the file, named by its hash
//	models--ORG--NAME/blobs/SHA256.incomplete     a download under way
//	models--ORG--NAME/snapshots/COMMIT/FILE       a relative link to the blob
//	models--ORG--NAME/refs/main                   the commit main was at
//
// An interrupted download resumes where it stopped: blobs/SHA256.incomplete
// always holds a prefix of the file (so huggingface_hub can resume it too),
// and each further range being fetched in parallel is kept beside it as
// blobs/SHA256.incomplete.OFFSET, holding a prefix of the range that starts
// at byte OFFSET. A finished file is checked against the sha256 the API
// listed (the git blob hash for a file outside LFS) before it becomes a
// blob; a file that does not match is discarded and reported
// (*ChecksumError), and nothing that was in the cache before is touched:
// refs/main moves only once every file of the model is in place.
//
// The package uses the standard library, and github.com/vbauerster/mpb for
// the progress bars on a terminal.
package hub

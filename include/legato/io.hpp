#pragma once
// Checkpoints (safetensors).

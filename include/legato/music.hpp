#pragma once
// The music side of the house: it knows nothing of tensors.

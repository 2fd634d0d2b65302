#pragma once
// Modules and layers.

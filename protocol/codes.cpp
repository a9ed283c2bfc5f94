#include "protocol/codes.hpp"

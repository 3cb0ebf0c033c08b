package cast

import "errors"

// ErrLength: the byte lengths of src and dst do not hold the same number of
// whole elements of their dtypes.
var ErrLength = errors.New("buffer length mismatch")

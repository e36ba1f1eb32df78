import COpenBLAS

/// Which of OpenBLAS's kernel sets this process runs, for benchmark output: OpenBLAS picks
/// one per CPU when it loads, unless `OPENBLAS_CORETYPE` names one.
public enum BLASCore {
    /// OpenBLAS's name for the kernels in use ("Haswell", "SkylakeX", ...).
    public static var name: String { String(cString: openblas_get_corename()) }
}

//! How the XDP program is attached to the LB interface.

words! {
    /// `xdp_mode` / `--xdp-mode`.
    #[derive(Default)]
    pub enum XdpMode ("XDP mode") {
        /// In the driver (the default): fastest, needs driver support.
        #[default]
        Native = "native",
        /// In the kernel's generic path: works on any interface, slower.
        Generic = "generic",
    }
}

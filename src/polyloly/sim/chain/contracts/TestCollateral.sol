// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// A plain 6-decimal ERC-20 for the local chain: the bridged USDC.e the conditional tokens
/// are collateralised with (`underlying`), and, through PolyUSD, the pUSD the CLOB trades.
/// Written here for polyloly's tests and demo; anyone may be funded by the minter.
contract TestCollateral {
    string public name;
    string public symbol;
    uint8 public constant decimals = 6;
    uint256 public totalSupply;
    address public minter;
    mapping(address => uint256) public balanceOf;
    mapping(address => mapping(address => uint256)) public allowance;

    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);

    constructor(string memory name_, string memory symbol_) {
        name = name_;
        symbol = symbol_;
        minter = msg.sender;
    }

    function setMinter(address next) external {
        require(msg.sender == minter, "only minter");
        minter = next;
    }

    function mint(address to, uint256 amount) external {
        require(msg.sender == minter, "only minter");
        totalSupply += amount;
        balanceOf[to] += amount;
        emit Transfer(address(0), to, amount);
    }

    function burn(address from, uint256 amount) external {
        require(msg.sender == minter, "only minter");
        require(balanceOf[from] >= amount, "ERC20: burn amount exceeds balance");
        balanceOf[from] -= amount;
        totalSupply -= amount;
        emit Transfer(from, address(0), amount);
    }

    function approve(address spender, uint256 amount) external returns (bool) {
        allowance[msg.sender][spender] = amount;
        emit Approval(msg.sender, spender, amount);
        return true;
    }

    function transfer(address to, uint256 amount) external returns (bool) {
        _transfer(msg.sender, to, amount);
        return true;
    }

    function transferFrom(address from, address to, uint256 amount) external returns (bool) {
        uint256 allowed = allowance[from][msg.sender];
        if (allowed != type(uint256).max) {
            require(allowed >= amount, "ERC20: insufficient allowance");
            allowance[from][msg.sender] = allowed - amount;
        }
        _transfer(from, to, amount);
        return true;
    }

    function _transfer(address from, address to, uint256 amount) internal {
        require(to != address(0), "ERC20: transfer to the zero address");
        require(balanceOf[from] >= amount, "ERC20: transfer amount exceeds balance");
        balanceOf[from] -= amount;
        balanceOf[to] += amount;
        emit Transfer(from, to, amount);
    }
}

/// pUSD-like: an ERC-20 backed 1:1 by the underlying (USDC.e). `wrap` pulls underlying and
/// mints pUSD to `to`; `unwrap` burns the caller's pUSD and pays underlying to `to`.
contract PolyUSD is TestCollateral {
    TestCollateral public immutable underlying;

    constructor(TestCollateral underlying_) TestCollateral("Polymarket USD", "pUSD") {
        underlying = underlying_;
    }

    function wrap(address to, uint256 amount) external {
        require(underlying.transferFrom(msg.sender, address(this), amount), "pUSD: wrap");
        totalSupply += amount;
        balanceOf[to] += amount;
        emit Transfer(address(0), to, amount);
    }

    function unwrap(address to, uint256 amount) external {
        require(balanceOf[msg.sender] >= amount, "ERC20: burn amount exceeds balance");
        balanceOf[msg.sender] -= amount;
        totalSupply -= amount;
        emit Transfer(msg.sender, address(0), amount);
        require(underlying.transfer(to, amount), "pUSD: unwrap");
    }
}
